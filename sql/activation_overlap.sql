-- Cosine similarity of pooled activations within paraphrase families vs across families.
SELECT layer, representation, within_family, across_family, gap
FROM activation_overlap
ORDER BY representation, layer;
