#!/bin/sh
# The `settings_check` service of docker-compose.yml: runs once before the databases start (they depend on it
# completing successfully) and refuses the placeholders of .env.example. Compose's `${VAR:?message}` only
# catches a variable that is unset or empty; `change-me`, copied from .env.example as it is, would otherwise
# become the password of a database or of the UI.
#
# Every variable named in $SETTINGS_TO_CHECK must be set, at least 12 characters long and not a placeholder;
# those also named in $URL_SAFE_SETTINGS must be URL-safe (they are placed inside postgresql:// URLs); DOCKER_GID
# must be a number.
set -eu
failed=
refuse() {
    echo "settings_check: $1" >&2
    failed=1
}
for name in ${SETTINGS_TO_CHECK:?no SETTINGS_TO_CHECK given}; do
    eval "value=\${$name-}"
    lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
    case "$lowered" in
        "") refuse "$name is empty: set it in .env" ;;
        *change-me* | *changeme* | password | secret)
            refuse "$name is still the placeholder of .env.example: set a real one in .env (openssl rand -hex 24)" ;;
    esac
    case " ${URL_SAFE_SETTINGS:-} " in *" $name "*)
        case "$lowered" in *[!a-z0-9._~-]*)
            refuse "$name must be URL-safe (letters, digits, . _ ~ -): it is placed in a database URL" ;;
        esac
    esac
    if [ ${#value} -lt 12 ]; then
        refuse "$name is shorter than 12 characters"
    fi
done
case "${DOCKER_GID:-}" in
    "" | *[!0-9]*) refuse "DOCKER_GID must be the number of the group owning the Docker socket (stat -c %g /var/run/docker.sock)" ;;
esac
if [ -n "$failed" ]; then
    echo "settings_check: refusing to start; fix .env and run \`docker compose up -d\` again" >&2
    exit 1
fi
echo "settings_check: passwords set, none of them a placeholder"
