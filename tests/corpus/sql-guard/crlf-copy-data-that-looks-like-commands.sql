SET client_encoding = 'UTF8';
CREATE TABLE public.t (a text);
COPY public.t (a) FROM stdin;
\connect other
CREATE DATABASE data_not_a_statement
\.
SELECT 1;
