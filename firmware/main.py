"""Starts the gate app. On a crash: print the error, wait, reset (the app has
locked the door on its way out)."""

import sys
import time

import machine

import app

if app.maintenance_requested():
    print("maintenance mode: app not started (remove the 'maintenance' file or release the pin)")
else:
    try:
        app.main()
    except KeyboardInterrupt:
        print("stopped from the console")
    except Exception as exc:
        sys.print_exception(exc)
        time.sleep(5)
        machine.reset()
