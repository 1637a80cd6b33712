-- A file written on the server as its OS user.
SELECT lo_export(lo_from_bytea(0, '\x70776e6564'::bytea), '@OUT@/lo_export');
