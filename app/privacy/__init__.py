"""Privacy: erasure of one user's data, and streamed exports of the datasets."""
