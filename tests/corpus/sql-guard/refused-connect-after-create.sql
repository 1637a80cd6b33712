--
-- PostgreSQL database dump (pg_dump -C)
--

SET statement_timeout = 0;

CREATE DATABASE orders WITH TEMPLATE = template0 ENCODING = 'UTF8';

ALTER DATABASE orders OWNER TO postgres;

\connect orders

CREATE TABLE public.t (a integer);
