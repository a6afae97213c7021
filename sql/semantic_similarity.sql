-- Where do meaning and representation agree? Spearman correlation over prompt pairs between
-- sentence-embedding cosine (all-MiniLM-L6-v2) and activation cosine.
SELECT layer, representation, spearman, note, n_pairs
FROM semantic_similarity
ORDER BY representation, layer;
