//! Tree models written for churn: histogram gradient boosting modelled on LightGBM, and a
//! random forest on the same tree learner.

pub mod bins;
pub mod boosting;
pub mod forest;
pub mod grow;
mod histogram;
