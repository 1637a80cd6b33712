SET statement_timeout = 0;
DROP DATABASE IF EXISTS orders;
