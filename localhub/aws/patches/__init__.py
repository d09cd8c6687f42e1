"""Changes to moto, each upstream-ready in a module of its own, each run against moto's own tests (:mod:`localhub.aws.patches.conformance`)."""
