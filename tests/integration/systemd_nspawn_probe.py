"""Runs as recorder@sandbox-probe (the daemon's unit, sandbox and user): where can it write?"""

import json
import os
import sys

room = sys.argv[1]
targets = {
    "own state directory": "/var/lib/room-recorder/sandbox-probe/probe",
    "another room's state directory": f"/var/lib/room-recorder/{room}/probe",
    "/etc/room-recorder": "/etc/room-recorder/probe",
    "/opt/room-recorder": "/opt/room-recorder/probe",
    "/usr/local/bin": "/usr/local/bin/probe",
    "/root": "/root/probe",
    "/var/tmp": "/var/tmp/probe",
    "/tmp": "/tmp/probe",
    "/home": "/home/probe",
}
result = {}
for name, path in targets.items():
    try:
        with open(path, "w") as handle:
            handle.write("probe")
        result[name] = "written"
    except OSError as error:
        result[name] = os.strerror(error.errno or 0)
print("SANDBOX " + json.dumps(result, sort_keys=True))
