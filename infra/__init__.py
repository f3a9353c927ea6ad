"""Deploy tooling: stage settings, IAM policies, the CloudFormation template and its checks (not packaged into Lambda)."""
