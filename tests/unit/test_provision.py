"""What the local runtime's provisioners make of a template's properties where the local endpoint
differs from AWS (localhub.aws.provision). Pure: no endpoint is called."""

from __future__ import annotations

from localhub.aws.provision import _lifecycle_rule, local_bucket_policy

TLS_ONLY = {
    "Sid": "TlsOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READ = {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "*"}


def test_a_tls_only_statement_is_left_out_locally_and_every_other_statement_kept() -> None:
    # Given a bucket policy denying plain HTTP and allowing reads
    document = {"Version": "2012-10-17", "Statement": [TLS_ONLY, READ]}

    # When made local, then only the TLS statement is gone (the embedded endpoint serves plain HTTP)
    assert local_bucket_policy(document) == {"Version": "2012-10-17", "Statement": [READ]}
    # And a policy of nothing but the TLS statement is not applied at all
    assert local_bucket_policy({"Version": "2012-10-17", "Statement": [TLS_ONLY]}) is None
    # And a deny on another condition stays
    other = {**TLS_ONLY, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
    assert local_bucket_policy({"Statement": [other]}) == {"Statement": [other]}


def test_a_lifecycle_rule_is_spelled_as_the_s3_api_takes_it() -> None:
    # Given a CloudFormation lifecycle rule
    rule = {
        "Id": "Expire",
        "Status": "Enabled",
        "ExpirationInDays": 30,
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }

    # When translated, then every part is there under the API's names
    assert _lifecycle_rule(rule) == {
        "ID": "Expire",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Expiration": {"Days": 30},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
