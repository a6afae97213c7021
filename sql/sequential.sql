-- Sequential unlearning: after each step (step 0 = the base model; `forgot` = that step's
-- target), recall of every sequence target and of the other films (neighbours of the catalog's
-- forget targets, retain films), mean over seeds; one column per target.
PIVOT (SELECT method, split, step, forgot, "group", recall FROM sequence_summary)
ON "group" USING avg(recall)
GROUP BY method, split, step, forgot
ORDER BY method, split DESC, step;
