# Nodes read their cluster file from SSM; Session Manager replaces SSH.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fdb" {
  name               = "${var.name}-fdb"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = var.tags
}

data "aws_iam_policy_document" "fdb" {
  statement {
    sid       = "ReadClusterFile"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.cluster_file.arn]
  }
}

resource "aws_iam_role_policy" "fdb" {
  name   = "cluster-file"
  role   = aws_iam_role.fdb.id
  policy = data.aws_iam_policy_document.fdb.json
}

resource "aws_iam_role_policy_attachment" "session_manager" {
  count = var.enable_session_manager ? 1 : 0

  role       = aws_iam_role.fdb.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_partition" "current" {}

resource "aws_iam_instance_profile" "fdb" {
  name = "${var.name}-fdb"
  role = aws_iam_role.fdb.name
  tags = var.tags
}
