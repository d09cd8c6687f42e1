"""What BRM receives for an order's accounts and billing profiles: the whole account (name, address, contact) as its
PIN_FLD_NAMEINFO, and the payment details a billing profile carries as its /payinfo's PIN_FLD_INHERITED_INFO.

A credit card profile without its card, or a direct debit profile without its bank account, cannot become a BRM
/payinfo: :func:`missing_payment_details` names the field, and the intake refuses such an order (422).
"""

from __future__ import annotations

from utilhub.packs.order_to_cash.brm import (
    DD_ACCOUNT_TYPES,
    PAY_TYPE_CREDIT_CARD,
    PAY_TYPE_DIRECT_DEBIT,
    BrmAccountIn,
    BrmBillInfoIn,
    BrmCcInfo,
    BrmDdInfo,
    BrmInvInfo,
    BrmNameinfo,
    BrmPayInfoIn,
)
from utilhub.packs.order_to_cash.model import AccountRef, BillingProfileRef, OrderAddress


def _street(address: OrderAddress) -> str:
    return "\n".join(line for line in (address.line1, address.line2) if line)


def nameinfo(account: AccountRef) -> list[BrmNameinfo]:
    """The account's billing contact (PIN_FLD_NAMEINFO element 1), or none when the order carries nothing of it."""
    address, contact = account.address, account.contact
    if account.name is None and address is None and contact is None:
        return []
    return [
        BrmNameinfo(
            company=account.name,
            firstName=contact.firstName if contact else None,
            lastName=contact.lastName if contact else None,
            address=_street(address) if address else None,
            city=address.city if address else None,
            state=address.state if address else None,
            zip=address.postalCode if address else None,
            country=address.country if address else None,
            emailAddr=contact.emailAddress if contact else None,
            phones=[phone.number for phone in contact.phones] if contact else [],
        )
    ]


def brm_account(account: AccountRef, *, parent_poid: str | None = None, paying: bool = True) -> BrmAccountIn:
    return BrmAccountIn(accountNo=account.id, nameinfo=nameinfo(account), parentPoid=parent_poid, paying=paying)


def missing_payment_details(pay_type: int, profile: BillingProfileRef) -> str | None:
    """The billing profile field a /payinfo of ``pay_type`` needs and the profile lacks, or None."""
    if pay_type == PAY_TYPE_CREDIT_CARD and profile.creditCard is None:
        return "creditCard"
    if pay_type == PAY_TYPE_DIRECT_DEBIT and profile.bankAccount is None:
        return "bankAccount"
    return None


def brm_payinfo(profile: BillingProfileRef, bill_to: AccountRef | None, account_poid: str, pay_type: int) -> BrmPayInfoIn:
    """The /payinfo of ``profile``: a card, a bank account, or where the invoice goes (the bill-to account's name,
    address and e-mail)."""
    address = bill_to.address if bill_to else None
    street, postal, country = (_street(address), address.postalCode, address.country) if address else (None, None, None)
    payinfo = BrmPayInfoIn(payInfoId=profile.id, accountPoid=account_poid, payType=pay_type)
    if pay_type == PAY_TYPE_CREDIT_CARD and profile.creditCard is not None:
        card = profile.creditCard
        payinfo.name = card.holderName
        payinfo.ccInfo = BrmCcInfo(
            debitNum=card.number, debitExp=card.expiry, name=card.holderName, address=street, zip=postal, country=country
        )
    elif pay_type == PAY_TYPE_DIRECT_DEBIT and profile.bankAccount is not None:
        bank = profile.bankAccount
        payinfo.name = bank.holderName
        payinfo.ddInfo = BrmDdInfo(
            debitNum=bank.accountNumber,
            bankNo=bank.bankCode,
            type=DD_ACCOUNT_TYPES[bank.accountType],
            name=bank.holderName,
            address=street,
            zip=postal,
            country=country,
        )
    elif (missing := missing_payment_details(pay_type, profile)) is not None:
        raise ValueError(f"billing profile {profile.id} has no {missing}")  # refused at intake; never reached for a kept order
    else:
        name = bill_to.name if bill_to else None
        payinfo.name = name
        payinfo.invInfo = BrmInvInfo(
            name=name,
            city=address.city if address else None,
            state=address.state if address else None,
            emailAddr=bill_to.contact.emailAddress if bill_to and bill_to.contact else None,
            address=street,
            zip=postal,
            country=country,
        )
    return payinfo


def brm_billinfo(profile: BillingProfileRef, account_poid: str, payinfo_poid: str, pay_type: int) -> BrmBillInfoIn:
    return BrmBillInfoIn(
        billInfoId=profile.id,
        accountPoid=account_poid,
        payInfoPoid=payinfo_poid,
        payType=pay_type,
        billCycleDay=profile.billCycleDay,
        currency=profile.currency,
    )
