"""The MLX90640 driver's read path, on the register-level fakes of the sensor.

- A subpage is read as the Melexis driver (GetFrameData) reads it: one status
  read, then clear the new-data flag, read the RAM, read the status again,
  and read the RAM again while a new subpage landed during the read (at most
  5 reads); then the control register; the subpage number from the last
  status read.
- The EEPROM is read at 400 kHz and frames at the configured clock.
- Under MicroPython, polling and reading a subpage allocates nothing.

Both fakes are used: ``sim/hardware/fake_mlx90640.py`` (the firmware tests')
and ``sim/sensor.py``'s VirtualMLX90640 (the simulator's).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from controller.sensor import Calibration, control_word, random_eeprom
from firmware_env import FAKES, FIRMWARE, config_dict, firmware_modules, fresh_hardware
from micropython_harness import run_micropython

STATUS, CONTROL, RAM = 0x8000, 0x800D, 0x0400


def subpages(seed: int = 5) -> tuple[np.ndarray, list[list[int]]]:
    """An EEPROM and four subpages (0, 1, 0, 1) of different scenes, each as 834 words."""
    eeprom = random_eeprom(seed)
    cal = Calibration.from_eeprom(eeprom)
    frames = []
    for n in range(4):
        image = np.full((24, 32), 20.0 + n)
        image[4 + n:16 + n, 8:20] = 34.0 + n
        words = cal.raw_from_to(image, 22.0, 3.3, n % 2, control_word(chess=True, refresh_hz=8.0))
        frames.append([int(w) for w in words])
    return eeprom, frames


def words_of(buf) -> list[int]:
    """The big-endian words of a bound frame buffer: 832 RAM words, control, subpage."""
    data = bytes(buf)
    return [(data[2 * i] << 8) | data[2 * i + 1] for i in range(834)]


def make_sensor(kind: str, fw, eeprom):
    if kind == "fake":
        return fw.fake_mlx90640.FakeMLX90640([int(w) for w in eeprom])
    from sim.sensor import VirtualMLX90640

    return VirtualMLX90640(np.asarray(eeprom), scenario=None, rng=np.random.default_rng(1))


@pytest.fixture(params=["fake", "virtual"])
def rig(request):
    """(fw, sensor, driver, frames): the driver on the fake I2C bus with one of the two fakes."""
    with firmware_modules() as fw:
        fresh_hardware(fw)
        eeprom, frames = subpages()
        sensor = make_sensor(request.param, fw, eeprom)
        fw.machine.devices[0x33] = sensor
        driver = fw.mlx90640.MLX90640(fw.machine.I2C(0, freq=1_000_000))
        buf = memoryview(bytearray(fw.mlx90640.FRAME_BYTES))
        driver.bind(buf)
        yield fw, sensor, driver, frames, buf


def test_a_subpage_is_read_with_one_status_read_before_the_ram(rig):
    fw, sensor, driver, frames, buf = rig
    sensor.log = []
    assert not driver.data_ready()
    sensor.load(frames[1])
    assert driver.data_ready()
    assert driver.read_subpage() == 1
    assert sensor.log == [
        ("read", STATUS, 1),  # the poll that found nothing
        ("read", STATUS, 1),  # the poll that found the subpage: the frame's only status read before the RAM
        ("write", STATUS, 0x0030),  # new-data flag cleared, overwrite enabled
        ("read", RAM, 832),
        ("read", STATUS, 1),  # nothing new landed during the read
        ("read", CONTROL, 1),
    ]
    got = words_of(buf)
    assert got[:832] == frames[1][:832]
    assert got[832] & 0x1000 == frames[1][832] & 0x1000 and got[833] == 1
    assert driver.rereads == 0 and not driver.data_ready()


def test_a_subpage_landing_during_the_ram_read_is_read_again(rig):
    fw, sensor, driver, frames, buf = rig
    sensor.load(frames[0])
    sensor.land_during_read.append(frames[1])
    sensor.log = []
    assert driver.data_ready()
    assert driver.read_subpage() == 1  # the number of the subpage now in RAM, from the last status read
    assert sensor.log == [
        ("read", STATUS, 1),
        ("write", STATUS, 0x0030), ("read", RAM, 832), ("read", STATUS, 1),  # torn: new data landed
        ("write", STATUS, 0x0030), ("read", RAM, 832), ("read", STATUS, 1),  # clean
        ("read", CONTROL, 1),
    ]
    assert words_of(buf)[:832] == frames[1][:832] and driver.rereads == 1


def test_the_fake_really_tears_a_read_that_a_subpage_lands_in(rig):
    """Without the re-read the buffer would mix two subpages: the first half old, the rest new."""
    fw, sensor, driver, frames, buf = rig
    sensor.load(frames[0])
    sensor.land_during_read.append(frames[2])
    ram = bytearray(1664)
    fw.machine.I2C(0).readfrom_mem_into(0x33, RAM, ram, addrsize=16)
    got = words_of(ram + b"\0\0\0\0")[:832]
    assert got[:416] == frames[0][:416] and got[416:] == frames[2][416:832]
    assert got != frames[0][:832] and got != frames[2][:832]
    assert sensor.status & 0x0008  # the flag is up again


@pytest.mark.parametrize("landings, ok", [(4, True), (5, False)])
def test_at_most_five_ram_reads(rig, landings, ok):
    fw, sensor, driver, frames, buf = rig
    sensor.load(frames[0])
    sensor.land_during_read.extend(frames[1 + n % 3] for n in range(landings))
    sensor.log = []
    assert driver.data_ready()
    if ok:
        driver.read_subpage()
        assert words_of(buf)[:832] == frames[1 + (landings - 1) % 3][:832]
    else:
        with pytest.raises(fw.mlx90640.SensorError, match="each of 5 RAM reads"):
            driver.read_subpage()
    assert sum(1 for kind, reg, _ in sensor.log if reg == RAM) == min(landings + 1, 5)


def test_status_register_flag_is_cleared_only_by_writing_zero(rig):
    fw, sensor, driver, frames, buf = rig
    sensor.load(frames[1])
    sensor.write(STATUS, bytes([0x00, 0x38]))  # bit 3 written as 1: the flag stays
    assert sensor.status & 0x0008 and sensor.status & 0x0007 == 1
    sensor.write(STATUS, bytes([0x00, 0x30]))
    assert not sensor.status & 0x0008 and sensor.status & 0x0007 == 1 and sensor.status & 0x0030 == 0x0030


# ---------------------------------------------------------------- bus clock


class Transfers:
    """Fake I2C buses at given clocks that log (hz, kind, register) per transfer."""

    def __init__(self, fw):
        log = self.log = []

        class RecordingI2C(fw.machine.I2C):
            def readfrom_mem_into(self, address, register, buf, addrsize=8):
                log.append((self.freq, "read", register))
                super().readfrom_mem_into(address, register, buf, addrsize)

            def writeto_mem(self, address, register, buf, addrsize=8):
                log.append((self.freq, "write", register))
                super().writeto_mem(address, register, buf, addrsize)

        self.made = []

        def bus(hz):
            self.made.append(hz)
            return RecordingI2C(0, freq=hz)

        self.bus = bus


@pytest.mark.parametrize("frame_hz", [1_000_000, 400_000, 200_000])
def test_eeprom_is_read_at_400_khz_and_frames_at_the_configured_clock(frame_hz):
    with firmware_modules() as fw:
        fresh_hardware(fw)
        eeprom, frames = subpages()
        sensor = fw.fake_mlx90640.FakeMLX90640([int(w) for w in eeprom])
        fw.machine.devices[0x33] = sensor
        t = Transfers(fw)
        driver = fw.mlx90640.MLX90640(t.bus(frame_hz), bus=t.bus, freq=frame_hz)
        driver.bind(memoryview(bytearray(fw.mlx90640.FRAME_BYTES)))
        ee = bytearray(fw.mlx90640.EEPROM_BYTES)
        driver.dump_eeprom(ee)
        driver.configure(4)
        sensor.load(frames[0])
        assert driver.data_ready()
        driver.read_subpage()
        assert words_of(ee + b"\0\0\0\0")[:832] == [int(w) for w in eeprom]
        assert [(hz, reg) for hz, kind, reg in t.log if reg == 0x2400] == [(400_000, 0x2400)]
        assert {hz for hz, kind, reg in t.log if reg != 0x2400} == {frame_hz}
        assert len([1 for hz, kind, reg in t.log if reg == RAM]) == 1

        # A failing EEPROM read still leaves the bus at the frame clock.
        sensor.fail_reads = 3
        with pytest.raises(fw.mlx90640.SensorError):
            driver.dump_eeprom(ee)
        assert t.made[-2:] == [400_000, frame_hz] and driver.i2c.freq == frame_hz


def test_a_bus_that_cannot_be_set_up_is_a_sensor_error():
    with firmware_modules() as fw:
        def bus(hz):
            raise ValueError("I2C(0) doesn't exist")

        driver = fw.mlx90640.MLX90640(None, bus=bus, freq=1_000_000)
        with pytest.raises(fw.mlx90640.SensorError, match="I2C bus at 400000 Hz"):
            driver.dump_eeprom(bytearray(1664))


def test_without_a_bus_function_the_bus_keeps_its_clock():
    with firmware_modules() as fw:
        fresh_hardware(fw)
        eeprom, _ = subpages()
        fw.machine.devices[0x33] = fw.fake_mlx90640.FakeMLX90640([int(w) for w in eeprom])
        t = Transfers(fw)
        driver = fw.mlx90640.MLX90640(t.bus(1_000_000))
        driver.dump_eeprom(bytearray(1664))
        assert t.made == [1_000_000] and {hz for hz, _, _ in t.log} == {1_000_000}


# ---------------------------------------------------------------- MicroPython


def test_polling_and_reading_allocate_nothing_under_micropython():
    eeprom, frames = subpages()
    script = f"EEPROM = {[int(w) for w in eeprom]}\nFRAMES = {frames}\n" + """
import gc, json, sys
import machine, fake_mlx90640
from mlx90640 import MLX90640, FRAME_BYTES
sensor = fake_mlx90640.FakeMLX90640(EEPROM)
machine.devices[0x33] = sensor
buses = []
def bus(hz):
    buses.append(hz)
    return machine.I2C(0, freq=hz)
drv = MLX90640(bus(1000000), bus=bus, freq=1000000)
drv.dump_eeprom(bytearray(1664))
drv.configure(4)
buf = memoryview(bytearray(FRAME_BYTES))
drv.bind(buf)
def one(n, landing):
    sensor.load(FRAMES[n % 4])
    if landing:
        sensor.land_during_read.append(FRAMES[(n + 1) % 4])
    drv.data_ready()
    drv.data_ready()
    return drv.read_subpage()
one(0, True)
n = subpages = allocated = 0  # globals made before the window: a new global may grow the module's dict
gc.collect()
gc.disable()
before = gc.mem_alloc()
for n in range(40):
    subpages += one(n, n % 4 == 0)
allocated = gc.mem_alloc() - before
gc.enable()
print("RESULT " + json.dumps({"impl": sys.implementation.name, "alloc": allocated, "rereads": drv.rereads,
                              "buses": buses, "subpages": subpages}))
"""
    out = run_micropython(script, [FIRMWARE, FAKES], timeout=120)
    result = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
    assert result["impl"] == "micropython"
    assert result["rereads"] == 11 and result["buses"] == [1_000_000, 400_000, 1_000_000]
    # Two polls and a read per subpage, one in four read twice: nothing allocated (the fake's own
    # work, inside the same window, allocates nothing either).
    assert result["alloc"] == 0, result
    assert result["subpages"] == 30  # 20 loaded as subpage 1, and 10 reads of 0 that became a 1 landing


@pytest.mark.parametrize("frame_hz", [1_000_000, 200_000])
def test_the_gate_reads_its_eeprom_at_400_khz_and_frames_at_i2c_freq(frame_hz):
    """The whole gate, as app.build wires it: the EEPROM dump at 400 kHz, every other transfer at i2c_freq."""
    with firmware_modules() as fw:
        clock, broker = fresh_hardware(fw)
        sensor = fw.fake_mlx90640.FakeMLX90640([int(w) for w in random_eeprom(3)])
        fw.machine.devices[0x33] = sensor
        fw.machine.I2C.transfers = []
        try:
            wlan = fw.network.WLAN()
            wlan.up = True
            cfg = fw.config.Config(config_dict(i2c_freq=frame_hz))
            gate = fw.app.build(cfg, clock=clock, wlan=wlan, open_socket=broker.open_socket,
                                random_bits=lambda n: 512, reboot=lambda: None, heap_free=lambda: 90000)
            gate.start_sensor()
            sensor.load(sensor.ram + [0x1901, 1])
            for _ in range(5):
                gate.step()
                clock.advance(10)
            log = fw.machine.I2C.transfers
        finally:
            fw.machine.I2C.transfers = None
        assert [(hz, reg) for hz, kind, reg, n in log if reg == 0x2400] == [(400_000, 0x2400)]
        assert {hz for hz, kind, reg, n in log if reg != 0x2400} == {frame_hz}
        assert any(reg == 0x0400 for hz, kind, reg, n in log)


def test_the_virtual_sensor_measures_on_its_own_clock_whatever_the_polling():
    """A subpage holds the scene at the time its measurement was due (every period from the first), not at the
    time it was polled: polled late, it holds the latest due; the grid is kept. So a live run draws the noise of
    the last (the scene's noise is keyed to its time)."""
    from sim.scenarios import SceneFrame
    from sim.sensor import VirtualMLX90640

    class Clocked:
        """A scene that notes when it is rendered."""

        def __init__(self):
            self.rendered: list[float] = []

        def frame_at(self, t: float) -> SceneFrame:
            self.rendered.append(t)
            return SceneFrame(np.full((24, 32), 30.0), 31.0, {})

    scene = Clocked()
    sensor = VirtualMLX90640(random_eeprom(5), scenario=scene, rng=np.random.default_rng(1))
    sensor.control = control_word(chess=True, refresh_hz=8.0)
    polls = [0.003, 0.06, 0.131, 0.2499, 0.252, 0.63, 0.749, 0.751]
    made = [sensor.update(t) for t in polls]
    assert made == [True, False, True, False, True, True, False, True]
    assert scene.rendered == [0.0, 0.125, 0.25, 0.625, 0.75]  # polled at 0.63: 0.375, 0.5 and 0.625 were due
    assert sensor.produced == 5 and sensor.next_due == 0.875
