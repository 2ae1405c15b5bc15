#!/usr/bin/env bash
# Install the Debian packages of a single-node SLURM test cluster (munge, slurmctld, slurmd, the
# client commands, slurmdbd for accounting, MariaDB behind it). Called by tests/slurm/slurm_cluster.py (for tests/slurm/test_real_slurm.py);
# nothing is configured or started here (the test runs every daemon from a temporary directory).
# Exit status 0 when every command is present afterwards, 1 otherwise (with the reason on stderr).
set -uo pipefail
needed=(munged slurmctld slurmd slurmdbd sbatch sacct mariadbd mariadb-install-db)
missing() { for c in "${needed[@]}"; do command -v "$c" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$c" >/dev/null || echo "$c"; done; }
[ -z "$(missing)" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo -n"
packages=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d: the packages must not start their own daemons (the test starts its own)
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && made_policy=1; fi
log=$(mktemp)
{ $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >"$log" 2>&1 \
  || { $SUDO apt-get update -qq >>"$log" 2>&1 \
       && $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$log" 2>&1; }; }
status=$?
[ "$made_policy" = 1 ] && $SUDO rm -f "$policy"
if [ $status -ne 0 ] || [ -n "$(missing)" ]; then
  echo "install_slurm.sh: could not install the Debian packages ${packages[*]} (apt-get status $status; still missing: $(missing | tr '\n' ' ')); apt-get said: $(tail -n 5 "$log" | tr '\n' ' ')" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
