"""Every sentence the Discord bot says, in one place."""

from __future__ import annotations

HELP = (
    "**Swapzy** puts a face into every frame of a GIF.\n"
    "• `/swap gif:<GIF or short video> face:<photo>`: swap a face into your GIF "
    "(`faces:` largest, all, or a face number).\n"
    "• `/swap-template template:<pick one> face:<photo>`: use a GIF from the gallery.\n"
    "• `/usage`: your plan and your recent clips.\n"
    "• `/delete-my-data`: delete everything you sent and every clip I made.\n"
    "• `/pro`: Swapzy Pro.\n"
    "• `/web`: a sign-in link to the website (your clips, plan and data).\n"
    "Server admins: `/swapzy-settings` picks the channels for swaps and a daily cap."
)
WRONG_GIF_TYPE = (
    "The `gif` option needs a GIF or a short video (GIF, MP4, WebM or WebP); **{name}** is {kind}."
)
WRONG_FACE_TYPE = "The `face` option needs a photo (JPEG, PNG or WebP); **{name}** is {kind}."
UNKNOWN_KIND = "a file of unknown type"
FILE_TOO_BIG = "**{name}** is {size} MB; I can take files up to {limit} MB. Try a smaller one."
BAD_FACES = "`faces` must be `largest`, `all` or a face number such as `2`."
CONSENT = (
    "One thing before your first swap: do you have the right to use this face "
    "(it's you, or the person agreed)?"
)
CONSENT_YES = "Yes, I have the right to use this face"
CONSENT_THANKS = "Thanks! Noted: I won't ask again. Your swap is starting below."
CONSENT_EXPIRED = "This question expired. Run the command again when you're ready."
FETCHING = "Fetching your files…"
QUEUED = "Queued: you're #{position} in line."
QUEUED_NEXT = "Queued: you're next!"
SWAPPING = "Swapping faces… {percent}%"
SENDING = "Sending your clip…"
DONE_STATUS = "Done! Your clip is below."
DONE = "Here you go! Share it: {link}"
TOO_BIG_FOR_DISCORD = (
    "Your clip is ready, but it's bigger than Discord lets me upload here ({limit} MB). "
    "Watch and share it: {link}"
)
LATE_NOTICE_CHANNEL = (
    "This is taking a while, longer than Discord lets me update this message. "
    "I'll post your clip in this channel when it's ready."
)
LATE_NOTICE_DM = (
    "This is taking a while, longer than Discord lets me update this message. "
    "I'll send your clip to you in a DM when it's ready."
)
LATE_DONE = "{mention} your clip is ready! Share it: {link}"
LATE_TOO_BIG = "{mention} your clip is ready (too big to upload here). Watch and share it: {link}"
LATE_FAILED = "{mention} about your swap: {text}"
CHANNEL_NOT_ALLOWED = "Swaps aren't enabled in this channel. Try {channels}."
SERVER_CAP_REACHED = (
    "This server has used all of its {cap} swaps for today. They reset at midnight UTC."
)
CANCELLED = "This swap was cancelled."
OOPS = "Something went wrong on our side. Please try again in a minute."
PRO_SOON = "Swapzy Pro is coming soon: longer GIFs, HD, no watermark and a priority lane."
PRO_LINK = "Get Swapzy Pro (longer GIFs, HD, a priority lane): {url}"
PRO_ALREADY = "You're on Swapzy Pro. Thanks for your support!"
USAGE = (
    "**Plan:** {plan}\n**Swaps left:** {left}\n**Swaps in the last 24 hours:** {today}\n{recent}"
)
USAGE_RECENT = "**Recent clips:**\n{lines}"
USAGE_NONE = "You haven't made any clips yet. Try `/swap`!"
USAGE_LINE = "• {when}: {state}"
DELETE_CONFIRM = (
    "This deletes every GIF and photo you sent me and every clip I made for you. "
    "Links you shared will stop working. Delete everything?"
)
DELETE_YES = "Yes, delete everything"
DELETE_NO = "Keep them"
DELETED = "Deleted {files} file(s) and {jobs} clip(s). Your data is gone."
DELETE_KEPT = "Okay, I kept everything."
BUTTON_ANOTHER_FACE = "Another face"
BUTTON_PRO = "Get Pro"
ANOTHER_FACE_TITLE = "Another face for this GIF"
ANOTHER_FACE_LABEL = "Face photo"
CLIP_GONE = "That clip is gone (deleted or too old). Run `/swap` again with the GIF."
TEMPLATE_NONE = "No template matches; the gallery has: {names}."
SETTINGS_ADMINS_ONLY = "Only server admins (Manage Server) can change Swapzy's settings."
SETTINGS_SHOW = "**Swaps allowed in:** {channels}\n**Daily cap:** {cap}"
SETTINGS_ALL_CHANNELS = "every channel"
SETTINGS_NO_CAP = "none"
SETTINGS_CAP_SET = "Daily cap set to {cap} swaps."

# The job's failure reason (core.errors codes) -> what the user can do about it.
FAILURES = {
    "no_face_in_source": "I couldn't find a face in that photo. Send a clear, front-facing photo.",
    "no_face_in_target": "I couldn't find a face in that GIF. Try one where a face is visible.",
    "face_not_found": "That GIF doesn't have the face you picked. Try `faces:largest`.",
    "too_many_frames": "That GIF is too long for your plan. Try a shorter one (or get `/pro`).",
    "too_large": "That file is too big for your plan. Try a smaller one (or get `/pro`).",
    "too_many_pixels": "That GIF is too large (in pixels). Try a smaller one.",
    "unsupported": "I can't read that kind of file. Send a GIF, MP4 or WebM and a JPEG/PNG photo.",
    "corrupt": "That file seems damaged; I couldn't read it. Try uploading it again.",
    "missing": "I couldn't fetch your file from Discord. Please try again.",
    "quota": "You've used all your swaps for now. Get `/pro` for more.",
}
# Plan notices (billing.notices kinds), sent by DM.
NOTICES = {
    "pro_now": "You're Pro now! Longer GIFs, HD, no watermark and the priority lane. Enjoy!",
    "payment_failed": "Your Swapzy Pro payment failed. Fix it here: {link}",
    "pro_ended": "Your Pro plan has ended; you're on the Free plan now. `/pro` to come back.",
}
FAILED_OTHER = "Something went wrong on our side while making your clip. Please try again."


def failure_text(reason: str | None, message: str | None) -> str:
    if reason in FAILURES:
        return FAILURES[reason]
    if reason == "bad_input" and message:
        return message
    return FAILED_OTHER


WEB_LINK = (
    "Your sign-in link for the Swapzy website. It works once, for {minutes} minutes; "
    "don't share it:\n{link}"
)
