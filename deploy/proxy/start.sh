#!/bin/sh
# Entry point of the `proxy` service: the password file from DAGSTER_UI_USERNAME / DAGSTER_UI_PASSWORD
# (nginx's {PLAIN} scheme, so no hashing tool is needed in the image), readable by nginx's workers only,
# in the container's /tmp; the engine's DNS server for nginx's resolver; the deployment's own origin and host
# for nginx's cross-site checks, from DAGSTER_WEBSERVER_URL (the address people open, as in Slack links);
# then nginx in the foreground with deploy/proxy/nginx.conf.
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

# DAGSTER_WEBSERVER_URL -> the origin browsers send in `Origin` (scheme://host[:port]: lower case, without
# the scheme's default port or a path) and the host they send in `Host`. Checked strictly: both are written
# into nginx's configuration.
url=$(printf '%s' "${DAGSTER_WEBSERVER_URL:-http://127.0.0.1:3000}" | tr '[:upper:]' '[:lower:]')
scheme=${url%%://*}
rest=${url#*://}
host=${rest%%/*}
case "$scheme" in http | https) ;; *)
    echo "DAGSTER_WEBSERVER_URL must start with http:// or https:// (got '$url')" >&2
    exit 1
    ;;
esac
case "$host" in "" | *[!a-z0-9.:\[\]-]*)
    echo "DAGSTER_WEBSERVER_URL must be scheme://host[:port][/path] (got '$url')" >&2
    exit 1
    ;;
esac
case "$scheme:$host" in http:*:80) host=${host%:80} ;; https:*:443) host=${host%:443} ;; esac
{
    echo "# Written by start.sh from DAGSTER_WEBSERVER_URL=$url"
    echo "map \$http_host \$etl_foreign_host { default 1; \"$host\" 0; }"
    echo "map \$http_origin \$etl_foreign_origin { default 1; \"\" 0; \"$scheme://$host\" 0; }"
    echo "map \$http_host \$etl_own_origin { default \"$scheme://$host\"; }"
} > /tmp/nginx-origin.conf
echo "proxy: accepting requests for $scheme://$host only (DAGSTER_WEBSERVER_URL)"
exec nginx -c /etc/nginx/etl/nginx.conf -g "daemon off;"
