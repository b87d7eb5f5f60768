# FoundationDB accepts connections from its own nodes and from the security
# groups of its clients (gateways, compactor), nothing else.

resource "aws_security_group" "fdb" {
  name        = "${var.name}-fdb"
  description = "FoundationDB servers of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "peers" {
  security_group_id            = aws_security_group.fdb.id
  description                  = "FoundationDB servers talk to each other"
  referenced_security_group_id = aws_security_group.fdb.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port + var.processes_per_instance - 1
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.fdb.id
  description                  = "FoundationDB clients: ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port + var.processes_per_instance - 1
}

resource "aws_vpc_security_group_egress_rule" "peers" {
  security_group_id            = aws_security_group.fdb.id
  description                  = "FoundationDB servers talk to each other"
  referenced_security_group_id = aws_security_group.fdb.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port + var.processes_per_instance - 1
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.fdb.id
  description       = "HTTPS: SSM, the FoundationDB packages on GitHub, OS updates"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
