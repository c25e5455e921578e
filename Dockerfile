# One image for every Dagster process of the deployment (docker-compose.yml): the code server, the
# webserver, the daemon, and the run containers that dagster-docker's DockerRunLauncher starts from the code
# server's image. One image means the UI, the daemon and the runs can never disagree about the code.
#
#   docker build -t etl_project:latest .
#
# No HEALTHCHECK here: the right check depends on the role, so docker-compose.yml defines one per service
# (and run containers, which need none, would inherit it).
#
# BASE_IMAGE: any image with Python 3.11 as `python` and `pip` on the PATH, pip allowed to install as root
# (no PEP 668 marker), and groupadd/useradd. The official image is the default; `make compose-e2e` passes
# a stand-in built from Debian packages (scripts/compose_e2e/python.Containerfile) where no registry is
# reachable.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# Only for machines whose pip must use a mirror or a private CA: given at build time (`--build-arg`, with the
# CA bundle mounted read-only, as scripts/compose_e2e.sh does), never stored in the image's environment. No
# defaults: an ARG that is not passed stays unset in RUN, where pip then uses its own defaults. Build
# arguments do show in the image's history: an index URL with credentials in it belongs in a build secret.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_CERT
ARG PIP_DEFAULT_TIMEOUT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/dagster/app

# Dependencies first, exactly as pinned in pyproject.toml, in a layer of their own: a code change then
# rebuilds only the small layers below. dagster-docker (the run launcher) is needed only here, so it is not a
# project dependency; its version must stay in step with the dagster pins in pyproject.toml.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt dagster-docker==0.29.27 \
    && rm /tmp/requirements.txt

# The package stays in /opt/dagster/app, installed in editable mode, because etl_project/paths.py finds the
# SQL migrations and queries in etl_db/ next to the package; a regular install would copy the package into
# site-packages without them.
COPY README.md ./
COPY etl_project/ etl_project/
COPY etl_db/ etl_db/
COPY deploy/workspace.yaml deploy/check-settings.sh deploy/
RUN pip install --no-deps -e . \
    && python -c "from etl_project.paths import MIGRATIONS_DIR; assert any(MIGRATIONS_DIR.glob('*.sql')), MIGRATIONS_DIR"

# A fixed numeric uid, so that Kubernetes' runAsNonRoot can verify it. The code stays owned by root (read
# only for the processes); the user owns only what Dagster writes: DAGSTER_HOME (compute logs, IO manager
# files) and the shared directory. Named volumes mounted there start out with this ownership.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --create-home --home-dir /home/dagster \
        --shell /usr/sbin/nologin dagster \
    && mkdir -p "$DAGSTER_HOME/storage" /opt/dagster/shared_data \
    && chown -R dagster:dagster "$DAGSTER_HOME" /opt/dagster/shared_data
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml

USER 10001:10001
EXPOSE 3000 4000

# The code server by default; docker-compose.yml gives the webserver and the daemon their own command, and
# the run launcher gives run containers theirs.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "etl_project.definitions", "--location-name", "etl_project"]
