"""`dataops export cloudformation`: the stack `up` creates, as a CloudFormation template.

Built from the same plan code `up` runs (dataops_cli/resources/*): every resource is planned
against an account that holds nothing (empty_account.py), so each plan is a CREATE whose
steps carry the exact API parameters `up` would send; translate.py maps those parameters to
the AWS::* resource properties, template.py assembles the template. No second description
of the stack is kept by hand.
"""
