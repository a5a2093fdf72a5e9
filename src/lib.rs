//! kiln: ahead-of-time tuned tensor kernels.
