-- Deletion curve (rule localize, testbed): teacher-forced recall of the real forget films'
-- facts and of retain films' facts with the study ranking's top-m MLP neurons zeroed
-- (ablated = ranked) or m seeded random neurons (random). A ranking that localizes the concept
-- drops forget recall with far fewer neurons than retain recall, and faster than random.
SELECT ablated, m, forget_recall, retain_recall, forget_recall - retain_recall AS gap,
       n_forget, n_retain
FROM deletion_curve
ORDER BY m, ablated;
