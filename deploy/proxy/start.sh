#!/bin/sh
# Entry point of the `proxy` service: the password file from DAGSTER_UI_USERNAME / DAGSTER_UI_PASSWORD
# (nginx's {PLAIN} scheme, so no hashing tool is needed in the image), readable by nginx's workers only,
# in the container's /tmp; the engine's DNS server for nginx's resolver; then nginx in the foreground with
# deploy/proxy/nginx.conf.
set -eu
: "${DAGSTER_UI_USERNAME:?set DAGSTER_UI_USERNAME in .env}"
: "${DAGSTER_UI_PASSWORD:?set DAGSTER_UI_PASSWORD in .env}"
case "$DAGSTER_UI_USERNAME" in *:*)
    echo "DAGSTER_UI_USERNAME must not contain ':'" >&2
    exit 1
    ;;
esac
umask 027
printf '%s:{PLAIN}%s\n' "$DAGSTER_UI_USERNAME" "$DAGSTER_UI_PASSWORD" > /tmp/htpasswd
chgrp nogroup /tmp/htpasswd
nameserver=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
case "$nameserver" in *:*) nameserver="[$nameserver]" ;; esac
echo "resolver ${nameserver:?no nameserver in /etc/resolv.conf} valid=10s;" > /tmp/nginx-resolver.conf
exec nginx -c /etc/nginx/etl/nginx.conf -g "daemon off;"
