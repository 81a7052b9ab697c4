# pragma version ~=0.4.3
"""
@title MockAggregator
@notice A settable stand-in for a Chainlink AggregatorV3Interface feed, for local
        chains and tests. Anyone may set a round.
@dev Test-only.
"""

event RoundSet:
    round_id: uint80
    answer: int256
    updated_at: uint256
    answered_in_round: uint80

decimals: public(uint8)
_round_id: uint80
_answer: int256
_updated_at: uint256
_answered_in_round: uint80


@deploy
def __init__(feed_decimals: uint8):
    """
    @param feed_decimals Decimals of the answers (Chainlink USD feeds use 8).
    """
    self.decimals = feed_decimals


@external
def set_round(answer: int256, updated_at: uint256):
    """
    @notice Start a new round answered in itself.
    """
    self._round_id += 1
    self._answer = answer
    self._updated_at = updated_at
    self._answered_in_round = self._round_id
    log RoundSet(round_id=self._round_id, answer=answer, updated_at=updated_at, answered_in_round=self._round_id)


@external
def set_round_data(round_id: uint80, answer: int256, updated_at: uint256, answered_in_round: uint80):
    """
    @notice Set every field of the latest round (e.g. a carried-over answer).
    """
    self._round_id = round_id
    self._answer = answer
    self._updated_at = updated_at
    self._answered_in_round = answered_in_round
    log RoundSet(round_id=round_id, answer=answer, updated_at=updated_at, answered_in_round=answered_in_round)


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice (roundId, answer, startedAt, updatedAt, answeredInRound).
    """
    return self._round_id, self._answer, self._updated_at, self._updated_at, self._answered_in_round
