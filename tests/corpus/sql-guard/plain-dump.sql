--
-- PostgreSQL database dump
--

\restrict Xq7dL0c9Hf2mJ1vAcmz3

-- Dumped from database version 15.14
-- Dumped by pg_dump version 15.14

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;

CREATE TABLE public.orders (
    id integer NOT NULL,
    note text
);

COPY public.orders (id, note) FROM stdin;
1	first
2	\\! looks like a shell escape, but it is data
3	\N
\.

CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql
    AS $$SELECT '\connect inside a function body'$$;

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);

--
-- PostgreSQL database dump complete
--

\unrestrict Xq7dL0c9Hf2mJ1vAcmz3

