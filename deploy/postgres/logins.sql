-- One login role per Strike component, granted only that component's NOLOGIN role (which
-- `strike migrate` creates: migrations/00010_component_roles.sql), as
-- docs/runbooks/database-roles.md describes. compose.yaml's db-logins service runs this with psql
-- as the database's admin user after the migration and before any component starts; it is
-- idempotent (a second run resets the passwords to the environment's).
--
-- The passwords come from the environment (\getenv, psql 15), never from this file.

\set ON_ERROR_STOP on
\getenv gateway_password STRIKE_DB_GATEWAY_PASSWORD
\getenv callbacks_password STRIKE_DB_CALLBACKS_PASSWORD
\getenv eco_processor_password STRIKE_DB_ECO_PROCESSOR_PASSWORD
\getenv dialer_password STRIKE_DB_DIALER_PASSWORD
\getenv sink_password STRIKE_DB_SINK_PASSWORD
\getenv render_poller_password STRIKE_DB_RENDER_POLLER_PASSWORD

CREATE TEMP TABLE strike_logins (login text, role text, password text NOT NULL);
INSERT INTO strike_logins VALUES
    ('strike_gateway_login', 'strike_gateway', :'gateway_password'),
    ('strike_callbacks_login', 'strike_callbacks', :'callbacks_password'),
    ('strike_eco_processor_login', 'strike_eco_processor', :'eco_processor_password'),
    ('strike_dialer_login', 'strike_dialer', :'dialer_password'),
    ('strike_sink_login', 'strike_sink', :'sink_password'),
    ('strike_render_poller_login', 'strike_render_poller', :'render_poller_password');

SELECT format('CREATE ROLE %I LOGIN', login) FROM strike_logins
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) \gexec
-- INHERIT (the default), so the login holds its component role's grants; never superuser or
-- BYPASSRLS.
SELECT format('ALTER ROLE %I LOGIN INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD %L', login, password)
FROM strike_logins \gexec
SELECT format('GRANT %I TO %I', role, login) FROM strike_logins \gexec
