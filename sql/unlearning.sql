-- Unlearning runs: last logged step of each run.
SELECT
    checkpoint,
    method,
    seed,
    max(step) AS steps,
    arg_max(loss, step) AS final_loss,
    arg_max(forget_recall, step) AS forget_recall_tf,
    arg_max(retain_recall, step) AS retain_recall_tf,
    any_value(trainable_params) AS trainable_params,
    max(seconds) AS seconds
FROM unlearn_log
GROUP BY checkpoint, method, seed
ORDER BY checkpoint;
