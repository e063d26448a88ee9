"""Decision stages: classify, authorise, thread, caps and routing; the pipeline's steps are built from them."""
