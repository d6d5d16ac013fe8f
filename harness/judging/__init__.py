"""Judging, on the host: reading what a run left in /out (``outfiles``), its metrics lines
(``metrics``), scoring artifacts against held-out data (``scorers``) and the verdict of every
check and extra (``verdicts``)."""
