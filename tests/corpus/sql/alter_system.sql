-- The server's configuration changed.
ALTER SYSTEM SET work_mem = '77MB';
