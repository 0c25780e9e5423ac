"""Every sentence the bot says, in one place."""

from __future__ import annotations

START = (
    "Hi! Send me a GIF and a face photo (in any order) and I'll put the face into every frame.\n"
    "Tip: reply to a GIF with a photo, or use /swap in reply to a GIF in a group."
)
HELP = (
    "How it works:\n"
    "1. Send a GIF (or a short video).\n"
    "2. Send a photo with one clear face.\n"
    "I'll send the swapped clip back with a share link.\n\n"
    "/status: your clips in progress\n"
    "/history: your last clips\n"
    "/cancel: forget what you sent and cancel waiting clips\n"
    "/delete: delete everything you sent me and every clip I made\n"
    "/web: sign in to the website (your clips, your plan)\n"
    "/pro: Swapzy Pro"
)
FETCHING = "Got it! Fetching your files…"
NEED_FACE = "Nice GIF! Now send me a photo of the face to put in it."
NEED_GIF = "Got the face! Now send me the GIF (or a short video) to put it in."
CONSENT = (
    "One thing before your first swap: do you have the right to use this face "
    "(it's you, or the person agreed)?"
)
CONSENT_YES = "Yes, I have the right"
CONSENT_NO = "Cancel"
CONSENT_DECLINED = "No problem, nothing was made. Send another face whenever you like."
QUEUED = "Queued. You're #{position} in line."
QUEUED_NEXT = "Queued. You're next!"
SWAPPING = "Swapping faces… {percent}%"
SENDING = "Sending your clip…"
DONE_CAPTION = "Here you go! Share it: {link}"
TOO_BIG_TO_SEND = "Your clip is ready, but it's too big to send here. Download it: {link}"
INPUT_TOO_BIG = (
    "That file is {size} MB; Telegram only lets me fetch files up to {limit} MB. "
    "Try a shorter or smaller GIF."
)
NOT_MEDIA = "I can only use GIFs, short videos and photos. Send me a GIF and a face photo."
SWAP_NEEDS_REPLY = "Use /swap in reply to a GIF, then send the face photo."
CANCELLED = "Done: I forgot what you sent and cancelled {count} waiting clip(s)."
NOTHING_TO_CANCEL = "There was nothing to cancel."
DELETE_CONFIRM = (
    "This deletes every GIF and photo you sent me and every clip I made for you. "
    "Links you shared will stop working. Delete everything?"
)
DELETE_YES = "Yes, delete everything"
DELETE_NO = "Keep them"
DELETED = "Deleted {count} file(s). Your clips and uploads are gone."
DELETE_KEPT = "Okay, I kept everything."
WEB_LINK = (
    "Your sign-in link for the Swapzy website. It works once, for {minutes} minutes; "
    "don't share it:\n{link}"
)
PRO_SOON = "Swapzy Pro is coming soon: longer GIFs, HD, no watermark and a priority lane."
PRO_PITCH = (
    "Swapzy Pro: {swaps} swaps a month, longer GIFs, HD, no watermark and the priority lane. "
    "Tap below to subscribe."
)
PRO_ALREADY = "You're on Pro already. /billing to manage your plan."
BUTTON_SUBSCRIBE = "Subscribe to Pro"
BILLING_NONE = "You don't have a paid plan yet. /pro to get one."
BILLING_LINK = "Manage your plan, card and invoices here (the link works for a few minutes):"
BUTTON_BILLING = "Manage billing"
BUTTON_FIX_PAYMENT = "Fix payment"
NOTICES = {
    "pro_now": "You're Pro now! Longer GIFs, HD, no watermark and the priority lane. Enjoy!",
    "payment_failed": "Your payment failed, fix it here: /billing (or tap below).",
    "pro_ended": "Your Pro plan has ended; you're on the Free plan now. /pro to come back.",
}
NO_JOBS = "You have no clips in progress."
NO_HISTORY = "You haven't made any clips yet. Send me a GIF and a face!"
STATUS_LINE = "• {state}{extra}"
HISTORY_LINE = "• {when}: {what}"
BUSY = "Lots of people are swapping right now. You're #{position} in line; I'll send it soon."
OOPS = "Something went wrong, we're on it. Please try again in a minute."
BUTTON_ANOTHER_FACE = "Another face for this GIF"
BUTTON_ANOTHER_GIF = "Another GIF with this face"
BUTTON_PRO = "Get Pro"
EXPIRED_BUTTON = "That clip is too old to reuse; send me the files again."

# The job's failure reason (core.errors codes) -> what the user can do about it.
FAILURES = {
    "no_face_in_source": "I couldn't find a face in that photo. Send a clear, front-facing photo.",
    "no_face_in_target": "I couldn't find a face in that GIF. Try one where a face is visible.",
    "face_not_found": "That GIF doesn't have the face you picked. Try again with another GIF.",
    "too_many_frames": "That GIF is too long for your plan. Try a shorter one (or get /pro).",
    "too_large": "That file is too big for your plan. Try a smaller one (or get /pro).",
    "too_many_pixels": "That GIF is too large (in pixels). Try a smaller one.",
    "unsupported": "I can't read that kind of file. Send a GIF, MP4 or WebM and a JPEG/PNG photo.",
    "corrupt": "That file seems damaged; I couldn't read it. Try sending it again.",
    "missing": "I couldn't get your file from Telegram. Please send it again.",
    "quota": "You've used all your swaps for now. Get Pro for more.",
}
FAILED_OTHER = "Something went wrong on our side while making your clip. Please try again."


def failure_text(reason: str | None, message: str | None) -> str:
    if reason in FAILURES:
        return FAILURES[reason]
    if reason in ("bad_input", "quota_reached") and message:
        return message
    return FAILED_OTHER
