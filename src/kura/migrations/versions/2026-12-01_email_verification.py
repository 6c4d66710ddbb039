"""Email verification: user_account.email_verified_at and VERIFY links. Expand-only.

Existing accounts are marked verified when they proved the address already — signed in with
Google, or set their password through an emailed invitation or reset link; self-registered
accounts stay unverified until they follow a verification link (they keep working, but cannot
add patients or invite staff until then).

Revision ID: 0012_email_verification
Revises: 0011_outbound_delivery
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_email_verification"
down_revision: str | Sequence[str] | None = "0011_outbound_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user_account",
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        """
        UPDATE user_account u SET email_verified_at = now()
        WHERE u.google_sub IS NOT NULL
           OR EXISTS (SELECT 1 FROM password_token t
                      WHERE t.user_id = u.id AND t.used_at IS NOT NULL)
        """
    )
    op.drop_constraint("token_purpose", "password_token", type_="check")
    op.create_check_constraint(
        "token_purpose", "password_token", "purpose IN ('RESET', 'INVITE', 'VERIFY')"
    )
    op.add_column("password_token", sa.Column("created_by_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_password_token_created_by_id_user_account"),
        "password_token",
        "user_account",
        ["created_by_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_password_token_created_by_id_user_account"), "password_token", type_="foreignkey"
    )
    op.drop_column("password_token", "created_by_id")
    op.execute("DELETE FROM password_token WHERE purpose = 'VERIFY'")
    op.drop_constraint("token_purpose", "password_token", type_="check")
    op.create_check_constraint("token_purpose", "password_token", "purpose IN ('RESET', 'INVITE')")
    op.drop_column("user_account", "email_verified_at")
