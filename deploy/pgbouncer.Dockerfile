# PgBouncer from Debian (the version the tests run against: tests/deploy/test_pgbouncer.py).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends pgbouncer postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /run/pgbouncer && chown postgres /run/pgbouncer
COPY pgbouncer.ini /etc/pgbouncer/pgbouncer.ini
USER postgres
EXPOSE 6432
# The password comes from the environment at start; the user list is written then.
CMD ["sh", "-c", "umask 077 && printf '\"linli\" \"%s\"\\n' \"$POSTGRES_PASSWORD\" > /run/pgbouncer/userlist.txt && exec pgbouncer /etc/pgbouncer/pgbouncer.ini"]
