-- A role that outlives the restore.
CREATE ROLE evil SUPERUSER LOGIN PASSWORD 'evil';
