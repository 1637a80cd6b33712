COPY public.t (a) TO stdout; -- from stdin;
\! id
\.
