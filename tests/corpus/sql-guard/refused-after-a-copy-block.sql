COPY public.t (a) FROM stdin;
\connect is data here
\.
\connect other
