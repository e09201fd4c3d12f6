#!/bin/bash
# Runs inside the test container (tests/integration/test_systemd_nspawn.py): the technician guide's
# steps from docs/deploy.md, in its order, plus the test's own probes. Nothing is judged here: every
# output and exit code goes to /results, and the test on the host asserts on them.
set -u
set -a
. /srv/rr/env # ROOM BUTTON VERSION OLD_VERSION NEW_VERSION RECIPIENT HANDOVER
set +a
R=/results
UNIT=recorder@$ROOM.service
CLIENT=(--config /etc/room-recorder/$ROOM/client.toml)

step() { # step TAG NAME [VAR=value...]: the guide's block NAME
  local tag=$1 name=$2
  shift 2
  env "$@" bash -e /srv/rr/steps/$name.sh >$R/$tag.out 2>&1
  echo $? >$R/$tag.rc
}
run() { # run TAG COMMAND...: a probe of the test's own
  local tag=$1
  shift
  "$@" >$R/$tag.out 2>&1
  echo $? >$R/$tag.rc
}
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
status_has() { systemctl show -p StatusText --value $UNIT | grep -q "$1"; }
restarted() { [[ $(systemctl show -p NRestarts --value $UNIT) -ge 1 ]] && systemctl is-active -q $UNIT && status_has idle; }

step packages packages
step release release
step switch switch
step install install
# The test's only edit of the config: a short pre- and post-roll, so that the run is quick.
sed -i -e 's/^pre_roll_s = .*/pre_roll_s = 3/' -e 's/^post_roll_s = .*/post_roll_s = 1/' /etc/room-recorder/$ROOM.toml
step check check
step enrol enrol
step start start
run show-started systemctl show -p ActiveState,SubState,StatusText,MainPID $UNIT

# A key enrolled while the room runs is refused until `systemctl reload`.
step enrol-late enrol BUTTON=late
run status-late-before panic-button status "${CLIENT[@]}" --key /etc/room-recorder/buttons/late.key_secret --timeout 0.5 --retries 1
step reload reload
sleep 1
run status-late-after panic-button status "${CLIENT[@]}" --key /etc/room-recorder/buttons/late.key_secret

step press press
wait_for 30 status_has idle
mkdir -p $R/incidents && cp /var/lib/room-recorder/$ROOM/*.age $R/incidents/
step logs logs
mkdir -p $HANDOVER
step handover handover

# The sandbox: the same unit file, with a probe in place of the daemon.
mkdir -p /run/systemd/system/recorder@sandbox-probe.service.d
cp /srv/rr/sandbox-probe.conf /run/systemd/system/recorder@sandbox-probe.service.d/
systemctl daemon-reload
run sandbox systemctl start recorder@sandbox-probe.service
journalctl -u recorder@sandbox-probe.service -o cat >$R/sandbox-journal.out

# The watchdog: a stopped daemon is killed and restarted by systemd.
run show-before-stop systemctl show -p MainPID,NRestarts $UNIT
systemctl kill -s SIGSTOP --kill-whom=main $UNIT
wait_for 60 restarted
run show-after-watchdog systemctl show -p ActiveState,SubState,MainPID,NRestarts,StatusText $UNIT

# Upgrade to the new release, then roll back.
step upgrade-release release VERSION=$NEW_VERSION
step upgrade-check upgrade-check VERSION=$NEW_VERSION
step upgrade-switch switch VERSION=$NEW_VERSION
wait_for 30 status_has idle
run version-upgraded recorder --version
run unit-after-upgrade readlink -f /etc/systemd/system/multi-user.target.wants/$UNIT
step rollback-switch switch VERSION=$OLD_VERSION
wait_for 30 status_has idle
run version-rolled-back recorder --version

journalctl -u $UNIT -o cat >$R/journal.out
cp /var/lib/room-recorder/$ROOM/audit.jsonl $R/
step uninstall uninstall
run after-uninstall ls /var/lib/room-recorder/$ROOM /etc/room-recorder
run show-uninstalled systemctl show -p ActiveState $UNIT
touch $R/done
