-- Another database written to through dblink.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_exec('dbname=victim user=postgres', 'DELETE FROM precious');
