-- Knowledge check of the base model (rule check_knowledge): facts (film, intent) asked on their
-- train templates, and those it knows (greedy answer correct on >= knowledge.min_share of them).
-- Only known facts are unlearned and evaluated.
SELECT role, count(*) AS facts, count(*) FILTER (WHERE known) AS known,
       count(*) FILTER (WHERE known) / count(*) AS share,
       count(DISTINCT title) FILTER (WHERE known) AS films_known,
       string_agg(DISTINCT intent, ', ' ORDER BY intent) FILTER (WHERE known) AS intents_known
FROM knowledge
GROUP BY role
ORDER BY list_position(['forget', 'neighbour', 'retain'], role);
