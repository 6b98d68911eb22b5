"""Fake ``machine``: pins that record their changes, an I2C bus with attached
fake devices, one-shot timers driven by the clock, a watchdog that counts
feeds, and reset() as an exception.

Module level, it is the one board of a test (``devices``, ``uarts``, ``clock``,
``Pin.pins``). ``Board`` gives each virtual gate of the simulator a board of
its own, with the same interface, to pass to the firmware's ``app.build``.
"""

from fake_uart import SerialPort

clock = None  # set by a test to a clock with .now (ms) so pin changes carry times
devices = {}  # I2C address -> fake device with read_into(register, buf) / write(register, data)
uarts = {}  # UART id -> fake device on that UART (fake_uart.FakeQRScanner, fake_pn532.FakePN532)


class ResetCalled(Exception):
    pass


def reset():
    raise ResetCalled()


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def _module_now():
    return clock.now if clock is not None else 0


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    pins = {}  # number -> the last Pin made for it
    _now = staticmethod(_module_now)

    def __init__(self, number, mode=IN, pull=None, value=None):
        self.number = number
        self.mode = mode
        self.history = []  # (ms, value) for every change
        self.level = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self.value(value)
        self.pins[number] = self

    def value(self, v=None):
        if v is None:
            return self.level
        v = 1 if v else 0
        if v != self.level or not self.history:
            self.history.append((self._now(), v))
        self.level = v
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class I2C:
    _devices = devices
    transfers = None  # a test sets a list: (freq, "read" or "write", register, bytes) per transfer, on every bus

    def __init__(self, bus_id, scl=None, sda=None, freq=400000):
        self.freq = freq
        self.transactions = 0

    def _device(self, address):
        if address not in self._devices:
            raise OSError(19)  # ENODEV: no ACK
        return self._devices[address]

    def readfrom_mem_into(self, address, register, buf, addrsize=8):
        self.transactions += 1
        if self.transfers is not None:
            self.transfers.append((self.freq, "read", register, len(buf)))
        self._device(address).read_into(register, buf)

    def writeto_mem(self, address, register, buf, addrsize=8):
        self.transactions += 1
        if self.transfers is not None:
            self.transfers.append((self.freq, "write", register, len(buf)))
        self._device(address).write(register, buf)


class UART(SerialPort):
    """A UART (fake_uart.SerialPort) wired to the device attached to its id, if any."""

    _devices = uarts

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None, timeout=0,
                 timeout_char=0, **kwargs):
        SerialPort.__init__(self)
        self.id = id
        self.baudrate = baudrate
        self.bits, self.parity, self.stop = bits, parity, stop
        self.tx_pin, self.rx_pin = tx, rx
        self.timeout = timeout
        device = self._devices.get(id)
        if device is not None:
            device.attach(self)


class Timer:
    """A hardware timer: its callback runs at its time, from the clock (``call_later``), not from the
    main loop. ``fired`` counts the callbacks run."""

    ONE_SHOT = 0
    PERIODIC = 1
    _clock = staticmethod(lambda: clock)

    def __init__(self, id=0, **kwargs):
        self.id = id
        self.fired = 0
        self._handle = None
        if kwargs:
            self.init(**kwargs)

    def init(self, mode=ONE_SHOT, period=-1, callback=None, freq=None):
        if mode != Timer.ONE_SHOT:
            raise ValueError("only ONE_SHOT timers are faked")
        if period is None or period < 0 or callback is None:
            raise ValueError("period and callback are needed")
        self.deinit()
        timer = self

        def fire():
            timer._handle = None
            timer.fired += 1
            callback(timer)

        self._handle = self._clock().call_later(period, fire)

    def deinit(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class WDT:
    last = None

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.last = self

    def feed(self):
        self.feeds += 1


class Board:
    """One board's hardware: its own pins (timed by its own clock), its own
    I2C devices, its own watchdog; ``reset()`` raises ResetCalled."""

    def __init__(self, clock_source=None):
        board = self
        self.clock = clock_source
        self.devices = {}
        self.uart_devices = {}

        def now():
            return board.clock.now if board.clock is not None else 0

        class BoardPin(Pin):
            pins = {}
            _now = staticmethod(now)

        class BoardI2C(I2C):
            _devices = self.devices

        class BoardUART(UART):
            _devices = self.uart_devices

        class BoardTimer(Timer):
            _clock = staticmethod(lambda: board.clock)

        self.Pin = BoardPin
        self.I2C = BoardI2C
        self.Timer = BoardTimer
        self.UART = BoardUART
        self.WDT = WDT
        self.ResetCalled = ResetCalled

    def reset(self):
        raise ResetCalled()
