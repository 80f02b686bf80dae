"""awsglueml: Glue's ML transforms, which need the AWS Glue service; each call says so."""
