-- install_role: CREATE EXTENSION reuses a pre-existing authstore_user only
-- if it is a plain NOLOGIN role that is a member of no other role (issue 13,
-- finding 7): a member of authstore_user inherits whatever it is a member of.
SELECT current_database() AS regdb \gset
CREATE DATABASE regress_authstore_install;
\c regress_authstore_install
SET client_min_messages = warning;
-- The CONTEXT of an error in the extension script differs between versions
-- (18 adds the script's statement); the message, DETAIL and HINT are what
-- this test is about.
\set SHOW_CONTEXT never

GRANT pg_read_server_files TO authstore_user;
CREATE EXTENSION authstore;
REVOKE pg_read_server_files FROM authstore_user;
ALTER ROLE authstore_user CREATEDB;
CREATE EXTENSION authstore;
ALTER ROLE authstore_user NOCREATEDB;
CREATE EXTENSION authstore;
SELECT extversion FROM pg_extension WHERE extname = 'authstore';
DROP EXTENSION authstore;

-- the update from 0.1.0 refuses such a role as well, and changes nothing
CREATE EXTENSION authstore VERSION '0.1.0';
GRANT pg_read_server_files TO authstore_user;
ALTER EXTENSION authstore UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'authstore';
REVOKE pg_read_server_files FROM authstore_user;
ALTER EXTENSION authstore UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'authstore';
DROP EXTENSION authstore;

\c :regdb
DROP DATABASE regress_authstore_install;
