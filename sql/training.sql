-- Testbed training: last epoch of each model.
SELECT
    model,
    max(epoch) AS epochs,
    arg_max(loss, epoch) AS final_loss,
    arg_max(recall, epoch) AS final_recall,
    any_value(n_recall) AS recall_probes,
    max(seconds) AS seconds
FROM training_log
GROUP BY model
ORDER BY model;
