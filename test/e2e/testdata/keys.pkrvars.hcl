# The deployment's secrets the examples ask for (they have no default), as the suite passes them:
# -var-file=test/e2e/testdata/keys.pkrvars.hcl. test/e2e checks that they reach shared_config.
signup_key    = "suite-signup-key"
ellis_api_key = "suite-ellis-api-key"
