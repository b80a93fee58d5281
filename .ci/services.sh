#!/usr/bin/env bash
# Installs (when missing) and starts the services the tests use: PostgreSQL
# and MariaDB on 127.0.0.1 with a "cloudtest" user and database; installs wrk
# (throughput measurements), prometheus (the tests start their own
# instance on a free port) and go-httpbin. Safe to run again: a second run only checks.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in postgresql mariadb-server wrk prometheus; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package may start a prometheus of its own; the tests do not use it.
  (service prometheus stop || pkill -x prometheus) >/dev/null 2>&1 || true
fi

# go-httpbin, the third-party HTTP server the functional tests run against
# (internal/testhttpbin finds it in $PATH or $(go env GOPATH)/bin).
if ! command -v go-httpbin >/dev/null && [ ! -x "$(go env GOPATH)/bin/go-httpbin" ]; then
  echo "services: installing go-httpbin v2.26.0"
  go install github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.26.0
fi

wait_for() { # name, command
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services: $name did not start within 30 s" >&2
  return 1
}

# PostgreSQL: Debian's cluster, password login over TCP on 127.0.0.1.
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
wait_for PostgreSQL runuser -u postgres -- psql -qAtc 'select 1'
runuser -u postgres -- psql -qAt >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cloudtest') THEN
    CREATE ROLE cloudtest LOGIN PASSWORD 'cloudtest';
  END IF;
END $$;
SQL
runuser -u postgres -- psql -qAtc "SELECT 1 FROM pg_database WHERE datname = 'cloudtest'" | grep -q 1 ||
  runuser -u postgres -- createdb -O cloudtest cloudtest
wait_for "PostgreSQL (TCP)" env PGPASSWORD=cloudtest psql -h 127.0.0.1 -U cloudtest -d cloudtest -qAtc 'select 1'

# MariaDB.
if ! mariadb-admin ping >/dev/null 2>&1; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  (service mariadb start || service mysql start) >/dev/null 2>&1 || {
    nohup mysqld_safe >/dev/null 2>&1 &
  }
fi
wait_for MariaDB mariadb-admin ping
mariadb -e "CREATE DATABASE IF NOT EXISTS cloudtest;
  CREATE USER IF NOT EXISTS 'cloudtest'@'127.0.0.1' IDENTIFIED BY 'cloudtest';
  CREATE USER IF NOT EXISTS 'cloudtest'@'localhost' IDENTIFIED BY 'cloudtest';
  GRANT ALL ON cloudtest.* TO 'cloudtest'@'127.0.0.1';
  GRANT ALL ON cloudtest.* TO 'cloudtest'@'localhost';"
wait_for "MariaDB (TCP)" mariadb -h 127.0.0.1 -P 3306 -u cloudtest -pcloudtest cloudtest -e 'select 1'

echo "services: PostgreSQL postgres://cloudtest:cloudtest@127.0.0.1:5432/cloudtest"
echo "services: MariaDB    cloudtest:cloudtest@tcp(127.0.0.1:3306)/cloudtest"
