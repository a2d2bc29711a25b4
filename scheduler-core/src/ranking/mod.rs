//! Ranking: how good a feasible node is for one placement.
