SELECT 1;
\connect other