#!/bin/sh
# Entry point of every container of the fengqiao image: refuse to start as a user the image has no account for.
#
# Why: Spark's JVM takes its home folder and login name from the account of the user it runs as. Without one it
# stops before doing anything ("basedir must be absolute: ?/.ivy2.5.2/local"; Hadoop: "invalid null input: name"),
# and Airflow's getpass lookups fail the same way. The image is built with one account, for the uid the containers
# run as (docker-compose.yml passes AIRFLOW_UID both as the build argument FENGQIAO_UID and as `user:`), so this
# only fires when the two disagree: AIRFLOW_UID changed in .env without a rebuild, or `docker run --user` another
# uid. Better one clear line here than a Java stack trace in every Spark stage.
set -eu
uid=$(id -u)
if ! getent passwd "$uid" > /dev/null 2>&1; then
    echo "fengqiao: this container runs as uid $uid, which has no account in the image (built for uid" \
         "${FENGQIAO_IMAGE_UID:-unknown}); Spark and Airflow need one. Set AIRFLOW_UID=$uid in .env and rebuild the" \
         "image (docker compose build), or run the containers as uid ${FENGQIAO_IMAGE_UID:-of the image}." >&2
    exit 78  # EX_CONFIG
fi
exec "$@"
