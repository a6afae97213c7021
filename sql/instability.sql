-- Prompt-perturbation instability per checkpoint and film role: mean over paraphrase families of
-- the pairwise Jensen-Shannon divergence (bits) of first-answer-token distributions, top-k token
-- overlap and greedy-answer agreement.
SELECT
    checkpoint,
    role,
    count(*) AS families,
    avg(js_mean) AS js_divergence,
    avg(topk_jaccard) AS topk_jaccard,
    avg(greedy_agreement) AS greedy_agreement
FROM instability
GROUP BY checkpoint, role
ORDER BY checkpoint, role;
